"""Cases (案件): the life cycle of reported problems, their public disclosure and ingestion."""
