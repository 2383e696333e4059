"""The platform's database: tables (`models`), connections (`session`) and schema migrations (`migrate`)."""
