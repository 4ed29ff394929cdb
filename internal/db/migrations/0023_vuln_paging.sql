-- Keyset paging of an organisation's findings: the list order (active
-- first, priority, rank, id) as one index, so each page is a range scan.
-- It covers every query the shorter index served.
DROP INDEX IF EXISTS vuln_findings_list;
CREATE INDEX vuln_findings_page ON vuln_findings(org_id, active, priority, rank, id);
