"""What every domain package uses: database base, errors, auth helpers, pagination."""
