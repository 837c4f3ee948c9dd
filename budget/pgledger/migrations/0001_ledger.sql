-- Version 1: the ledger's tables and the function that applies a batch of
-- operations. {{schema}} is replaced by the quoted schema name.

-- reservation_id issues reservation IDs: unique forever, never reused, even
-- after a rollback or a crash.
CREATE SEQUENCE {{schema}}.reservation_id AS bigint;

-- budgets has one row per budget: its latest window generation.
CREATE TABLE {{schema}}.budgets (
    name text PRIMARY KEY,
    gen  bigint NOT NULL DEFAULT 0
);

-- windows holds the figures of one budget in one window generation: the
-- global budget (key '') and each key's.
CREATE TABLE {{schema}}.windows (
    budget   text   NOT NULL,
    gen      bigint NOT NULL,
    key      text   NOT NULL,
    spent    bigint NOT NULL DEFAULT 0 CHECK (spent >= 0),
    reserved bigint NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    PRIMARY KEY (budget, gen, key)
);

-- holds are the unsettled reservations. One whose lease expired is charged
-- as spent (expired) and kept a day for a late settlement.
CREATE TABLE {{schema}}.holds (
    id      bigint  PRIMARY KEY,
    budget  text    NOT NULL,
    gen     bigint  NOT NULL,
    key     text    NOT NULL,
    amount  bigint  NOT NULL,
    expiry  bigint  NOT NULL, -- lease expiry, Unix milliseconds
    expired boolean NOT NULL DEFAULT false,
    label   text    NOT NULL DEFAULT ''
);
CREATE INDEX holds_lease ON {{schema}}.holds (budget, expiry) WHERE NOT expired;
CREATE INDEX holds_expired ON {{schema}}.holds (budget, expiry) WHERE expired;

-- settlements records each change of spend: kind is 'commit', 'cancel',
-- 'expire' (a lease expired: charged at the reserved amount), 'late commit'
-- or 'late cancel' (a settlement correcting an expiry charge). amount is the
-- change of spent, so that sum(amount) is the spend.
CREATE TABLE {{schema}}.settlements (
    at          timestamptz NOT NULL,
    budget      text        NOT NULL,
    reservation bigint      NOT NULL,
    gen         bigint      NOT NULL,
    key         text        NOT NULL,
    label       text        NOT NULL,
    kind        text        NOT NULL,
    reserved    bigint      NOT NULL,
    amount      bigint      NOT NULL
);
CREATE INDEX settlements_at ON {{schema}}.settlements USING brin (at);

-- apply runs a batch of operations for the budget p_budget, in order, each
-- accepted or refused on its own, in one transaction. Operations (p_op):
-- 1 reserve (p_gen, p_key, p_key_limit, p_amount, p_expiry, p_label),
-- 2 commit (p_id, p_gen, p_amount reserved, p_actual), 3 cancel (p_id,
-- p_gen, p_amount), 4 state (p_gen, p_key). p_key is '' for no key budget.
-- p_now is the batch's clock (Unix ms): leases that expired by then are
-- charged first; expired holds older than p_retention ms are forgotten.
-- The batches of one budget take turns on a transaction advisory lock, held
-- until their commit.
--
-- Each result row answers the operation of the same ordinal:
--   1 reserved: id, gen
--   2 refused by the global budget: spent, reserved
--   3 refused by the key's budget: key_spent, key_reserved
--   4 settled, 5 settled late (corrected an expiry charge),
--   6 already settled, 7 not issued by this budget
--   8 state: gen, spent, reserved, key_spent, key_reserved
-- Sums saturate at the largest bigint instead of failing.
CREATE FUNCTION {{schema}}.apply(
    p_budget text, p_now bigint, p_limit bigint, p_retention bigint, p_record boolean,
    p_op smallint[], p_id bigint[], p_gen bigint[], p_key text[], p_key_limit bigint[],
    p_amount bigint[], p_actual bigint[], p_expiry bigint[], p_label text[])
RETURNS TABLE (status smallint, id bigint, gen bigint, spent bigint, reserved bigint,
               key_spent bigint, key_reserved bigint)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $pgledger$
#variable_conflict use_column
DECLARE
    top constant bigint := 9223372036854775807;
    n int := coalesce(array_length(p_op, 1), 0);
    stored bigint;
    latest bigint;
    i int;
    gi int;
    ki int;
    hi int;
    amt bigint;
    billed bigint;
    last_id bigint;
    x record;
    -- the window figures the batch reads and writes, by name gen/key
    w_name text[];
    w_gen bigint[];
    w_key text[];
    w_spent bigint[];
    w_res bigint[];
    w_dirty boolean[];
    -- the holds the settlements name
    h_id bigint[];
    h_budget text[];
    h_gen bigint[];
    h_key text[];
    h_amount bigint[];
    h_expired boolean[];
    h_label text[];
    h_done boolean[];
    -- by operation: its hold, generation, key, and their windows
    o_hi int[];
    o_gen bigint[];
    o_key text[];
    o_gi int[];
    o_ki int[];
    -- results
    r_status smallint[] := array_fill(0::smallint, ARRAY[n]);
    r_id bigint[];
    r_gen bigint[] := array_fill(0::bigint, ARRAY[n]);
    r_s bigint[] := array_fill(0::bigint, ARRAY[n]);
    r_r bigint[] := array_fill(0::bigint, ARRAY[n]);
    r_ks bigint[] := array_fill(0::bigint, ARRAY[n]);
    r_kr bigint[] := array_fill(0::bigint, ARRAY[n]);
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended({{sequence}} || ' ' || p_budget, 0));
    SELECT b.gen INTO stored FROM {{schema}}.budgets b WHERE b.name = p_budget;
    IF NOT FOUND THEN
        INSERT INTO {{schema}}.budgets (name) VALUES (p_budget) ON CONFLICT DO NOTHING;
        stored := 0;
    END IF;

    -- Charge the holds whose lease expired; forget those expired long ago.
    FOR x IN UPDATE {{schema}}.holds h SET expired = true
             WHERE h.budget = p_budget AND NOT h.expired AND h.expiry <= p_now
             RETURNING h.id, h.gen, h.key, h.amount, h.label
    LOOP
        UPDATE {{schema}}.windows w
           SET reserved = greatest(w.reserved - x.amount, 0),
               spent = CASE WHEN w.spent > top - x.amount THEN top ELSE w.spent + x.amount END
         WHERE w.budget = p_budget AND w.gen = x.gen AND (w.key = '' OR w.key = x.key);
        IF p_record THEN
            INSERT INTO {{schema}}.settlements (at, budget, reservation, gen, key, label, kind, reserved, amount)
            VALUES (to_timestamp(p_now / 1000.0), p_budget, x.id, x.gen, x.key, x.label, 'expire', x.amount, x.amount);
        END IF;
    END LOOP;
    DELETE FROM {{schema}}.holds h
     WHERE h.budget = p_budget AND h.expired AND h.expiry <= p_now - p_retention;

    -- The holds the settlements name.
    SELECT array_agg(h.id), array_agg(h.budget), array_agg(h.gen), array_agg(h.key),
           array_agg(h.amount), array_agg(h.expired), array_agg(h.label), array_agg(false)
      INTO h_id, h_budget, h_gen, h_key, h_amount, h_expired, h_label, h_done
      FROM {{schema}}.holds h
     WHERE h.id = ANY (SELECT u.id FROM unnest(p_op, p_id) AS u(op, id) WHERE u.op IN (2, 3));
    -- Each operation's generation and key: reserve and state run in the
    -- latest generation seen, a settlement in its hold's.
    SELECT array_agg(o.hi ORDER BY o.j),
           array_agg(CASE WHEN o.op IN (1, 4) THEN greatest(stored, o.running)
                          WHEN o.hi IS NOT NULL THEN h_gen[o.hi] ELSE p_gen[o.j] END ORDER BY o.j),
           array_agg(CASE WHEN o.op IN (1, 4) THEN p_key[o.j]
                          WHEN o.hi IS NOT NULL THEN h_key[o.hi] ELSE '' END ORDER BY o.j),
           greatest(stored, max(o.running))
      INTO o_hi, o_gen, o_key, latest
      FROM (SELECT j, p_op[j] AS op, CASE WHEN p_op[j] IN (2, 3) THEN array_position(h_id, p_id[j]) END AS hi,
                   max(CASE WHEN p_op[j] IN (1, 4) THEN p_gen[j] END) OVER (ORDER BY j) AS running
              FROM generate_subscripts(p_op, 1) AS j) AS o;

    -- Load every window figure the batch may need.
    SELECT array_agg(nm), array_agg(u.g), array_agg(u.k), array_agg(coalesce(w.spent, 0)),
           array_agg(coalesce(w.reserved, 0)), array_agg(false)
      INTO w_name, w_gen, w_key, w_spent, w_res, w_dirty
      FROM (SELECT DISTINCT v.g, v.k, v.g::text || '/' || v.k AS nm
              FROM unnest(o_gen, o_key) AS v(g, k)
             UNION
            SELECT DISTINCT v.g, '', v.g::text || '/' FROM unnest(o_gen) AS v(g)) AS u
      LEFT JOIN {{schema}}.windows w ON w.budget = p_budget AND w.gen = u.g AND w.key = u.k;
    SELECT array_agg(array_position(w_name, v.g::text || '/') ORDER BY v.j),
           array_agg(CASE WHEN v.k <> '' THEN array_position(w_name, v.g::text || '/' || v.k) END ORDER BY v.j)
      INTO o_gi, o_ki
      FROM unnest(o_gen, o_key) WITH ORDINALITY AS v(g, k, j);

    FOR i IN 1 .. n LOOP
        gi := o_gi[i];
        ki := o_ki[i];
        amt := p_amount[i];
        IF p_op[i] = 1 THEN -- reserve
            r_gen[i] := o_gen[i];
            IF NOT (w_spent[gi] <= p_limit AND w_res[gi] <= p_limit - w_spent[gi]
                    AND amt <= p_limit - w_spent[gi] - w_res[gi]) THEN
                r_status[i] := 2; r_s[i] := w_spent[gi]; r_r[i] := w_res[gi];
            ELSIF ki IS NOT NULL AND NOT (w_spent[ki] <= p_key_limit[i] AND w_res[ki] <= p_key_limit[i] - w_spent[ki]
                    AND amt <= p_key_limit[i] - w_spent[ki] - w_res[ki]) THEN
                r_status[i] := 3; r_ks[i] := w_spent[ki]; r_kr[i] := w_res[ki];
            ELSE
                r_status[i] := 1;
                w_res[gi] := w_res[gi] + amt;
                w_dirty[gi] := true;
                IF ki IS NOT NULL THEN
                    w_res[ki] := w_res[ki] + amt;
                    w_dirty[ki] := true;
                END IF;
            END IF;
        ELSIF p_op[i] = 4 THEN -- state
            r_status[i] := 8; r_gen[i] := o_gen[i];
            r_s[i] := w_spent[gi]; r_r[i] := w_res[gi];
            IF ki IS NOT NULL THEN
                r_ks[i] := w_spent[ki]; r_kr[i] := w_res[ki];
            END IF;
        ELSE -- commit, cancel
            hi := o_hi[i];
            IF hi IS NULL THEN
                IF last_id IS NULL THEN
                    SELECT CASE WHEN s.is_called THEN s.last_value ELSE 0 END INTO last_id FROM {{schema}}.reservation_id s;
                END IF;
                r_status[i] := CASE WHEN p_id[i] BETWEEN 1 AND last_id THEN 6 ELSE 7 END;
            ELSIF h_done[hi] THEN
                r_status[i] := 6;
            ELSIF h_budget[hi] <> p_budget OR h_amount[hi] <> amt OR h_gen[hi] <> p_gen[i] THEN
                r_status[i] := 7;
            ELSE
                billed := CASE WHEN p_op[i] = 2 THEN p_actual[i] ELSE 0 END;
                IF h_expired[hi] THEN -- the expiry charged the reserved amount: correct it
                    r_status[i] := 5;
                    w_spent[gi] := greatest(w_spent[gi] - amt, 0);
                    IF ki IS NOT NULL THEN
                        w_spent[ki] := greatest(w_spent[ki] - amt, 0);
                    END IF;
                ELSE
                    r_status[i] := 4;
                    w_res[gi] := greatest(w_res[gi] - amt, 0);
                    IF ki IS NOT NULL THEN
                        w_res[ki] := greatest(w_res[ki] - amt, 0);
                    END IF;
                END IF;
                w_spent[gi] := CASE WHEN w_spent[gi] > top - billed THEN top ELSE w_spent[gi] + billed END;
                w_dirty[gi] := true;
                IF ki IS NOT NULL THEN
                    w_spent[ki] := CASE WHEN w_spent[ki] > top - billed THEN top ELSE w_spent[ki] + billed END;
                    w_dirty[ki] := true;
                END IF;
                h_done[hi] := true;
            END IF;
        END IF;
    END LOOP;

    -- Write back what changed.
    INSERT INTO {{schema}}.windows AS w (budget, gen, key, spent, reserved)
    SELECT p_budget, u.g, u.k, u.s, u.r FROM unnest(w_gen, w_key, w_spent, w_res, w_dirty) AS u(g, k, s, r, d) WHERE u.d
    ON CONFLICT ON CONSTRAINT windows_pkey DO UPDATE SET spent = excluded.spent, reserved = excluded.reserved;
    SELECT array_agg(CASE WHEN v.s = 1 THEN nextval({{sequence}}) ELSE 0 END ORDER BY v.j)
      INTO r_id FROM unnest(r_status) WITH ORDINALITY AS v(s, j);
    INSERT INTO {{schema}}.holds (id, budget, gen, key, amount, expiry, label)
    SELECT r_id[j], p_budget, o_gen[j], p_key[j], p_amount[j], p_expiry[j], p_label[j]
      FROM generate_subscripts(r_status, 1) AS j WHERE r_status[j] = 1;
    DELETE FROM {{schema}}.holds h
     WHERE h.id IN (SELECT p_id[j] FROM generate_subscripts(r_status, 1) AS j WHERE r_status[j] IN (4, 5));
    IF p_record THEN
        INSERT INTO {{schema}}.settlements (at, budget, reservation, gen, key, label, kind, reserved, amount)
        SELECT to_timestamp(p_now / 1000.0), p_budget, p_id[j], o_gen[j], o_key[j], h_label[o_hi[j]],
               CASE WHEN r_status[j] = 5 THEN 'late ' ELSE '' END || CASE WHEN p_op[j] = 2 THEN 'commit' ELSE 'cancel' END,
               p_amount[j],
               CASE WHEN p_op[j] = 2 THEN p_actual[j] ELSE 0 END - CASE WHEN r_status[j] = 5 THEN p_amount[j] ELSE 0 END
          FROM generate_subscripts(r_status, 1) AS j WHERE r_status[j] IN (4, 5);
    END IF;
    IF latest > stored THEN
        UPDATE {{schema}}.budgets b SET gen = latest WHERE b.name = p_budget;
    END IF;
    RETURN QUERY SELECT * FROM unnest(r_status, r_id, r_gen, r_s, r_r, r_ks, r_kr);
END
$pgledger$;
