-- One row per line of a non-deleted journal entry.
with lines as ({{ lines_of(ref('stg_journal_entries')) }})
select
    realm_id, txn_id, txn_type, txn_date, exchange_rate, line_index, detail_type, amount, amount_text,
    line ->> 'Description' as description,
    line -> 'JournalEntryLineDetail' ->> 'PostingType' as posting_type,
    {{ ref_id("line -> 'JournalEntryLineDetail'", 'AccountRef') }} as account_id,
    {{ ref_id("line -> 'JournalEntryLineDetail' -> 'Entity'", 'EntityRef') }} as entity_id
from lines
