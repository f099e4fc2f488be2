"""The spool: accepted batches wait here durably until the processor has stored their incidents."""
