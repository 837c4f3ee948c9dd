-- Version 1: the ledger's tables and the function that applies a batch of
-- operations. {{schema}} is replaced by the quoted schema name.

-- reservation_id issues reservation IDs: unique forever, never reused, even
-- after a rollback or a crash.
CREATE SEQUENCE {{schema}}.reservation_id AS bigint;

-- budgets has one row per budget: its latest window generation. A batch
-- locks it (FOR UPDATE), which serializes the batches of one budget across
-- every process sharing it.
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
LANGUAGE plpgsql AS $pgledger$
#variable_conflict use_column
DECLARE
    top constant bigint := 9223372036854775807;
    n int := coalesce(array_length(p_op, 1), 0);
    stored bigint;
    g bigint;
    i int;
    gi int;
    ki int;
    hi int;
    wi int;
    late boolean;
    latest bigint;
    room bigint;
    billed bigint;
    last_id bigint;
    new_id bigint;
    x record;
    -- the window figures the batch reads and writes, by name gen/key
    w_name text[] := '{}';
    w_gen bigint[] := '{}';
    w_key text[] := '{}';
    w_spent bigint[] := '{}';
    w_res bigint[] := '{}';
    w_dirty boolean[] := '{}';
    -- the gen of each operation (reserve, state) or of its hold (settlements)
    o_gen bigint[] := p_gen;
    -- the holds the settlements name
    h_id bigint[] := '{}';
    h_budget text[] := '{}';
    h_gen bigint[] := '{}';
    h_key text[] := '{}';
    h_amount bigint[] := '{}';
    h_expired boolean[] := '{}';
    h_label text[] := '{}';
    gone bigint[] := '{}';
    -- new holds
    n_id bigint[] := '{}';
    n_gen bigint[] := '{}';
    n_key text[] := '{}';
    n_amount bigint[] := '{}';
    n_expiry bigint[] := '{}';
    n_label text[] := '{}';
    -- settlement log
    s_id bigint[] := '{}';
    s_gen bigint[] := '{}';
    s_key text[] := '{}';
    s_label text[] := '{}';
    s_kind text[] := '{}';
    s_reserved bigint[] := '{}';
    s_amount bigint[] := '{}';
    -- results
    r_status smallint[] := array_fill(0::smallint, ARRAY[n]);
    r_id bigint[] := array_fill(0::bigint, ARRAY[n]);
    r_gen bigint[] := array_fill(0::bigint, ARRAY[n]);
    r_s bigint[] := array_fill(0::bigint, ARRAY[n]);
    r_r bigint[] := array_fill(0::bigint, ARRAY[n]);
    r_ks bigint[] := array_fill(0::bigint, ARRAY[n]);
    r_kr bigint[] := array_fill(0::bigint, ARRAY[n]);
BEGIN
    IF n = 0 THEN
        RETURN;
    END IF;
    SELECT b.gen INTO stored FROM {{schema}}.budgets b WHERE b.name = p_budget FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO {{schema}}.budgets (name) VALUES (p_budget) ON CONFLICT DO NOTHING;
        SELECT b.gen INTO stored FROM {{schema}}.budgets b WHERE b.name = p_budget FOR UPDATE;
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
            s_id := s_id || x.id; s_gen := s_gen || x.gen; s_key := s_key || x.key;
            s_label := s_label || x.label; s_kind := s_kind || 'expire'::text;
            s_reserved := s_reserved || x.amount; s_amount := s_amount || x.amount;
        END IF;
    END LOOP;
    DELETE FROM {{schema}}.holds h
     WHERE h.budget = p_budget AND h.expired AND h.expiry <= p_now - p_retention;

    -- The holds the settlements name, and the generation of each operation:
    -- reserve and state run in the latest generation seen.
    SELECT array_agg(h.id), array_agg(h.budget), array_agg(h.gen), array_agg(h.key),
           array_agg(h.amount), array_agg(h.expired), array_agg(h.label)
      INTO h_id, h_budget, h_gen, h_key, h_amount, h_expired, h_label
      FROM {{schema}}.holds h
     WHERE h.id = ANY (SELECT u.id FROM unnest(p_op, p_id) AS u(op, id) WHERE u.op IN (2, 3));
    latest := stored;
    FOR i IN 1 .. n LOOP
        IF p_op[i] IN (1, 4) THEN
            latest := greatest(latest, p_gen[i]);
            o_gen[i] := latest;
        ELSE
            hi := array_position(h_id, p_id[i]);
            IF hi IS NOT NULL THEN
                o_gen[i] := h_gen[hi];
            END IF;
        END IF;
    END LOOP;

    -- Load every window figure the batch may need.
    SELECT array_agg(DISTINCT u.g::text || '/' || u.k)
      INTO w_name
      FROM (SELECT o_gen[j] AS g, '' AS k FROM generate_subscripts(p_op, 1) AS j
            UNION ALL
            SELECT o_gen[j], p_key[j] FROM generate_subscripts(p_op, 1) AS j WHERE p_op[j] IN (1, 4) AND p_key[j] <> ''
            UNION ALL
            SELECT h_gen[j], h_key[j] FROM generate_subscripts(h_id, 1) AS j WHERE h_key[j] <> '') AS u;
    SELECT array_agg(split_part(nm, '/', 1)::bigint), array_agg(substr(nm, strpos(nm, '/') + 1)),
           array_agg(coalesce(w.spent, 0)), array_agg(coalesce(w.reserved, 0)), array_agg(false)
      INTO w_gen, w_key, w_spent, w_res, w_dirty
      FROM unnest(w_name) WITH ORDINALITY AS u(nm, ord)
      LEFT JOIN {{schema}}.windows w
        ON w.budget = p_budget AND w.gen = split_part(nm, '/', 1)::bigint AND w.key = substr(nm, strpos(nm, '/') + 1);
    -- The aggregates share one row order, maybe not w_name's: rebuild it.
    SELECT array_agg(w_gen[j]::text || '/' || w_key[j] ORDER BY j) INTO w_name FROM generate_subscripts(w_gen, 1) AS j;

    SELECT CASE WHEN s.is_called THEN s.last_value ELSE 0 END INTO last_id FROM {{schema}}.reservation_id s;

    FOR i IN 1 .. n LOOP
        g := o_gen[i];
        gi := array_position(w_name, g::text || '/');
        ki := NULL;
        IF p_op[i] IN (1, 4) AND p_key[i] <> '' THEN
            ki := array_position(w_name, g::text || '/' || p_key[i]);
        END IF;
        CASE p_op[i]
        WHEN 1 THEN -- reserve
            r_gen[i] := g;
            room := -1;
            IF w_spent[gi] <= p_limit AND w_res[gi] <= p_limit - w_spent[gi] THEN
                room := p_limit - w_spent[gi] - w_res[gi];
            END IF;
            IF p_amount[i] > room THEN
                r_status[i] := 2; r_s[i] := w_spent[gi]; r_r[i] := w_res[gi];
                CONTINUE;
            END IF;
            IF ki IS NOT NULL THEN
                room := -1;
                IF w_spent[ki] <= p_key_limit[i] AND w_res[ki] <= p_key_limit[i] - w_spent[ki] THEN
                    room := p_key_limit[i] - w_spent[ki] - w_res[ki];
                END IF;
                IF p_amount[i] > room THEN
                    r_status[i] := 3; r_ks[i] := w_spent[ki]; r_kr[i] := w_res[ki];
                    CONTINUE;
                END IF;
                w_res[ki] := w_res[ki] + p_amount[i]; w_dirty[ki] := true;
            END IF;
            w_res[gi] := w_res[gi] + p_amount[i]; w_dirty[gi] := true;
            new_id := nextval({{sequence}});
            n_id := n_id || new_id; n_gen := n_gen || g; n_key := n_key || p_key[i];
            n_amount := n_amount || p_amount[i]; n_expiry := n_expiry || p_expiry[i]; n_label := n_label || p_label[i];
            r_status[i] := 1; r_id[i] := new_id;
        WHEN 2, 3 THEN -- commit, cancel
            hi := array_position(h_id, p_id[i]);
            IF hi IS NULL OR p_id[i] = ANY (gone) THEN
                IF hi IS NULL AND (p_id[i] < 1 OR p_id[i] > last_id) THEN
                    r_status[i] := 7;
                ELSE
                    r_status[i] := 6;
                END IF;
                CONTINUE;
            END IF;
            IF h_budget[hi] <> p_budget OR h_amount[hi] <> p_amount[i] OR h_gen[hi] <> p_gen[i] THEN
                r_status[i] := 7;
                CONTINUE;
            END IF;
            late := h_expired[hi];
            ki := NULL;
            IF h_key[hi] <> '' THEN
                ki := array_position(w_name, g::text || '/' || h_key[hi]);
            END IF;
            billed := CASE WHEN p_op[i] = 2 THEN p_actual[i] ELSE 0 END;
            FOREACH wi IN ARRAY ARRAY[gi, ki] LOOP
                CONTINUE WHEN wi IS NULL;
                IF late THEN -- the expiry charged the reserved amount: correct it
                    w_spent[wi] := greatest(w_spent[wi] - p_amount[i], 0);
                ELSE
                    w_res[wi] := greatest(w_res[wi] - p_amount[i], 0);
                END IF;
                w_spent[wi] := CASE WHEN w_spent[wi] > top - billed THEN top ELSE w_spent[wi] + billed END;
                w_dirty[wi] := true;
            END LOOP;
            gone := gone || p_id[i];
            r_status[i] := CASE WHEN late THEN 5 ELSE 4 END;
            IF p_record THEN
                s_id := s_id || p_id[i]; s_gen := s_gen || g; s_key := s_key || h_key[hi];
                s_label := s_label || h_label[hi];
                s_kind := s_kind || (CASE WHEN late THEN 'late ' ELSE '' END ||
                                     CASE WHEN p_op[i] = 2 THEN 'commit' ELSE 'cancel' END);
                s_reserved := s_reserved || p_amount[i];
                s_amount := s_amount || (CASE WHEN late THEN billed - p_amount[i] ELSE billed END);
            END IF;
        ELSE -- state
            r_status[i] := 8; r_gen[i] := g;
            r_s[i] := w_spent[gi]; r_r[i] := w_res[gi];
            IF ki IS NOT NULL THEN
                r_ks[i] := w_spent[ki]; r_kr[i] := w_res[ki];
            END IF;
        END CASE;
    END LOOP;

    -- Write back what changed.
    INSERT INTO {{schema}}.windows AS w (budget, gen, key, spent, reserved)
    SELECT p_budget, u.g, u.k, u.s, u.r FROM unnest(w_gen, w_key, w_spent, w_res, w_dirty) AS u(g, k, s, r, d) WHERE u.d
    ON CONFLICT ON CONSTRAINT windows_pkey DO UPDATE SET spent = excluded.spent, reserved = excluded.reserved;
    IF array_length(n_id, 1) > 0 THEN
        INSERT INTO {{schema}}.holds (id, budget, gen, key, amount, expiry, label)
        SELECT u.id, p_budget, u.g, u.k, u.a, u.e, u.l FROM unnest(n_id, n_gen, n_key, n_amount, n_expiry, n_label) AS u(id, g, k, a, e, l);
    END IF;
    IF array_length(gone, 1) > 0 THEN
        DELETE FROM {{schema}}.holds h WHERE h.id = ANY (gone);
    END IF;
    IF array_length(s_id, 1) > 0 THEN
        INSERT INTO {{schema}}.settlements (at, budget, reservation, gen, key, label, kind, reserved, amount)
        SELECT to_timestamp(p_now / 1000.0), p_budget, u.id, u.g, u.k, u.l, u.kind, u.r, u.a
          FROM unnest(s_id, s_gen, s_key, s_label, s_kind, s_reserved, s_amount) AS u(id, g, k, l, kind, r, a);
    END IF;
    IF latest > stored THEN
        UPDATE {{schema}}.budgets b SET gen = latest WHERE b.name = p_budget;
    END IF;
    RETURN QUERY SELECT * FROM unnest(r_status, r_id, r_gen, r_s, r_r, r_ks, r_kr);
END
$pgledger$;
