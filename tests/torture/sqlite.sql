-- The torture suite's sqlite3 shell run (on a database file, so the file's
-- bytes can be compared too).
PRAGMA journal_mode = DELETE;
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)
INSERT INTO t SELECT x, printf('name-%05d', (x * 7919) % 20000), x / 7.0 FROM c;
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(length(name)), round(sum(v), 3) FROM t;
SELECT name FROM t ORDER BY name DESC LIMIT 3;
SELECT substr(name, 1, 7) AS p, count(*) FROM t GROUP BY p ORDER BY p LIMIT 5;
