"""Learning: theory module completion, quizzes, and per-enrolment progress."""
