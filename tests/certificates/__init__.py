"""Certificates: issuance, lifecycle, listing, public verification (and the colleagues'
completion, PDF and Open Badges tests). Builders: tests.http (certificate_course,
eligible_enrollment, issued_certificate...) and tests.builders (ORM)."""
