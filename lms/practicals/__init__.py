"""Practicals: submissions with files, deadlines and extensions, rubric grading, gradebook."""
