-- The lab's database (TechEmpower's World and Fortune, plus items for CRUD). Loaded into database "stackwise".
CREATE TABLE world (id integer NOT NULL PRIMARY KEY, randomnumber integer NOT NULL DEFAULT 0);
INSERT INTO world (id, randomnumber) SELECT x, floor(random() * 10000 + 1)::int FROM generate_series(1, 10000) AS x;
CREATE TABLE fortune (id integer NOT NULL PRIMARY KEY, message varchar(2048) NOT NULL);
INSERT INTO fortune (id, message) VALUES
 (1, 'fortune: No such file or directory'),
 (2, 'A computer scientist is someone who fixes things that aren''t broken.'),
 (3, 'After enough decimal places, nobody gives a damn.'),
 (4, 'A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1'),
 (5, 'A computer program does what you tell it to do, not what you want it to do.'),
 (6, 'Emacs is a nice operating system, but I prefer UNIX. — Tom Christaensen'),
 (7, 'Any program that runs right is obsolete.'),
 (8, 'A list is only as strong as its weakest link. — Donald Knuth'),
 (9, 'Feature: A bug with seniority.'),
 (10, 'Computers make very fast, very accurate mistakes.'),
 (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
 (12, 'フレームワークのベンチマーク');
CREATE TABLE items (id bigserial PRIMARY KEY, name varchar(200) NOT NULL, price_cents integer NOT NULL CHECK (price_cents >= 0));
INSERT INTO items (name, price_cents) SELECT 'item ' || x, x * 7 % 100000 FROM generate_series(1, 1000) AS x;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
