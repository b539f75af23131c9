"""Progress and completion: what each enrolment has done and whether it may be certified."""
