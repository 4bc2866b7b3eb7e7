"""Everything SQL: models, migrations, units of work and the knowledge base store."""
