-- SQLite gets a covering index for loading the matching index here.
-- PostgreSQL reads those columns fast enough from the table, and a B-tree
-- entry holding every name of an asset could exceed its size limit, so
-- nothing changes on PostgreSQL; the version is kept for both databases.
SELECT 1;
