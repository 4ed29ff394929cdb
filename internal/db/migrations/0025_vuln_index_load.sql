-- postgres:
-- SQLite gets a covering index for loading the matching index here.
-- PostgreSQL reads those columns fast enough from the table, and a B-tree
-- entry holding every name of an asset could exceed its size limit, so
-- nothing changes on PostgreSQL; the version is kept for both databases.
SELECT 1;
-- sqlite:
-- What the matching index reads of every identity, in an index narrow
-- enough to read without the wide rows (candidates, inventory fields): a
-- process starting with a million assets reads a fraction of the pages.
CREATE INDEX vuln_asset_identity_load ON vuln_asset_identity(asset_id, org_id, names, external, vpn, exposed);
-- both:
