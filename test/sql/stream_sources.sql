--
-- Trigger-fed streams: attach_source() makes an ordinary table's inserts,
-- updates and deletes events of a stream, one statement-level trigger per
-- operation, with the rights of whoever attached it.  The stream must
-- hold exactly one event per written row, in the same transaction (a
-- rolled-back write adds none), and a continuous view over it must equal
-- its query over those events.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS stream_ext;
RESET client_min_messages;
\pset null '<null>'

-- An application's table, and the stream its writes go to.
CREATE TABLE orders (id int PRIMARY KEY, customer int NOT NULL, amount numeric NOT NULL, note text);
CREATE TABLE order_events (customer int, amount numeric, old_amount numeric, op text,
                           ts timestamptz NOT NULL DEFAULT now());
SELECT stream_ext.create_stream('order_events', event_time => 'ts');
SELECT stream_ext.attach_source('orders', 'order_events',
                                operations => ARRAY['INSERT', 'UPDATE', 'DELETE'],
                                operation_column => 'op');
SELECT source, stream, operation FROM stream_ext.source ORDER BY operation;
SELECT regexp_replace(pg_get_triggerdef(oid), '[0-9]+', 'N', 'g') AS trigger
  FROM pg_trigger WHERE tgrelid = 'orders'::regclass ORDER BY tgname;

SELECT stream_ext.create_continuous_view('spend', $$
    SELECT customer, count(*) FILTER (WHERE op = 'INSERT') AS orders,
           sum(CASE op WHEN 'INSERT' THEN amount WHEN 'UPDATE' THEN amount - old_amount
                       ELSE -amount END) AS balance
      FROM order_events GROUP BY customer$$);

-- Writes of every kind, one statement for many rows, a rollback, a
-- savepoint rolled back.
INSERT INTO orders SELECT g, g % 5, g * 1.5, 'n' || g FROM generate_series(1, 1000) g;
UPDATE orders SET amount = amount + 1 WHERE id % 10 = 0;
DELETE FROM orders WHERE id % 7 = 0;
BEGIN;
INSERT INTO orders VALUES (5000, 1, 99, NULL);
ROLLBACK;
BEGIN;
INSERT INTO orders VALUES (5001, 2, 10, NULL);
SAVEPOINT s;
UPDATE orders SET amount = 0 WHERE id = 5001;
ROLLBACK TO s;
COMMIT;

-- One event per row written and kept.
SELECT op, count(*) FROM order_events GROUP BY op ORDER BY op;
SELECT count(*) AS updates_with_wrong_old
  FROM order_events WHERE op = 'UPDATE' AND amount <> old_amount + 1;

-- The view equals the table it mirrors: the balance is what is left.
SELECT stream_ext.flush();
SELECT (SELECT count(*) FROM (SELECT customer, balance FROM spend
                              EXCEPT ALL SELECT customer, sum(amount) FROM orders GROUP BY customer) x)
     + (SELECT count(*) FROM (SELECT customer, sum(amount) FROM orders GROUP BY customer
                              EXCEPT ALL SELECT customer, balance FROM spend) x) AS differences;
SELECT sum(orders) AS orders_seen FROM spend;

-- Writers need no right on the stream: the trigger runs as the role
-- that attached the source.
CREATE ROLE regress_source_app;
GRANT INSERT, UPDATE, DELETE, SELECT ON orders TO regress_source_app;
SET ROLE regress_source_app;
INSERT INTO orders VALUES (6000, 3, 7, 'from the app');
SELECT count(*) FROM order_events;   -- it cannot even read the stream
RESET ROLE;
SELECT count(*) AS app_event FROM order_events WHERE amount = 7 AND customer = 3;

-- The columns are matched when a statement runs: a column added to the
-- stream named like one of the source takes part from then on.
ALTER TABLE order_events ADD COLUMN note text;
INSERT INTO orders VALUES (6001, 3, 8, 'noted');
SELECT note FROM order_events WHERE amount = 8 AND customer = 3;
-- DROP TABLE of the stream refuses while a table feeds it.
DO $$
DECLARE
    detail text;
BEGIN
    DROP TABLE order_events;
EXCEPTION WHEN dependent_objects_still_exist THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RAISE NOTICE 'DROP TABLE refused: %, for the triggers: %', SQLSTATE,
        detail ~ 'trigger stream_ext_insert_[0-9]+ on table orders depends on table order_events';
END $$;

-- Bad input.
CREATE TABLE plain (x int);
SELECT stream_ext.attach_source('orders', 'plain');
SELECT stream_ext.attach_source('order_events', 'order_events');
SELECT stream_ext.attach_source('orders', 'order_events');
SELECT stream_ext.attach_source('plain', 'order_events', operations => ARRAY['UPDATE']);
SELECT stream_ext.attach_source('plain', 'order_events', operations => ARRAY['TRUNCATE'], operation_column => 'op');
SELECT stream_ext.attach_source('plain', 'order_events', operation_column => 'customer');
SELECT stream_ext.attach_source('plain', 'order_events');
CREATE VIEW orders_view AS SELECT * FROM orders;
SELECT stream_ext.attach_source('orders_view', 'order_events');
SET ROLE regress_source_app;
SELECT stream_ext.attach_source('orders', 'order_events', operations => ARRAY['INSERT']);
RESET ROLE;
CREATE TABLE app_owned (customer int);
ALTER TABLE app_owned OWNER TO regress_source_app;
-- Owning the table is not enough: attaching needs INSERT on the stream.
SET ROLE regress_source_app;
SELECT stream_ext.attach_source('app_owned', 'order_events');
RESET ROLE;
SELECT count(*) AS half_made FROM pg_trigger WHERE tgrelid IN ('plain'::regclass, 'app_owned'::regclass);
-- The stream cannot go while a table feeds it, unless cascade.
SELECT stream_ext.drop_stream('order_events');

-- Detached, the table's writes no longer become events.
SELECT stream_ext.detach_source('orders', 'order_events');
INSERT INTO orders VALUES (7000, 4, 1, NULL);
SELECT count(*) AS after_detach FROM order_events WHERE amount = 1 AND customer = 4;
SELECT count(*) AS sources_left FROM stream_ext.source;
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgrelid = 'orders'::regclass;
SELECT stream_ext.detach_source('orders');

-- Dropping the source table removes its triggers and catalog rows.
CREATE TABLE temp_source (customer int, amount numeric);
SELECT stream_ext.attach_source('temp_source', 'order_events');
INSERT INTO temp_source VALUES (9, 9);
SELECT count(*) AS from_temp_source FROM order_events WHERE customer = 9;
DROP TABLE temp_source;
SELECT count(*) AS sources_left FROM stream_ext.source;

SELECT stream_ext.drop_stream('order_events', "cascade" => true);
DROP TABLE orders, plain, app_owned CASCADE;
DROP ROLE regress_source_app;
