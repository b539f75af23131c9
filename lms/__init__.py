"""Teacher-training LMS. The application factory is ``lms.app.create_app``; the package
layout and its one-way layers are described in docs/architecture.md."""
