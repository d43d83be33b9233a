"""ASN roster: agencies, units, staff, ASN, enrolled accounts, CSV import, registry."""
