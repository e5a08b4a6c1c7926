from tests.office.ledgers import fresh_office  # noqa: F401  (the fixture, for every test here)
