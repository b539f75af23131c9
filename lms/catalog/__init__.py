"""Catalogue: programmes, courses (training offerings), modules with quizzes and rubrics."""
