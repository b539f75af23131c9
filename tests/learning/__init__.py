"""Theory completion, quizzes and progress. Builders: tests.builders (ORM) and tests.http."""
