-- What the matching index reads of every identity, in an index narrow
-- enough to read without the wide rows (candidates, inventory fields): a
-- process starting with a million assets reads a fraction of the pages.
CREATE INDEX vuln_asset_identity_load ON vuln_asset_identity(asset_id, org_id, names, external, vpn, exposed);
