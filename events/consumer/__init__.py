"""The consumer: bus messages into ClickHouse tables, stored or dead-lettered, never lost."""
