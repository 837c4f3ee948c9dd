-- Version 2: rate limits besides the main budgets (budget.Limits.Rates and
-- KeyRates) and alert marks (budget.Alerter). {{schema}} is replaced by the
-- quoted schema name.

-- rate_windows holds the figures of one rate limit in one window: rate is
-- the limit's ordinal (1 … p_nrates the global budget's, key ''; the next
-- ones each key's). Windows two windows old are deleted.
CREATE TABLE {{schema}}.rate_windows (
    budget   text     NOT NULL,
    rate     smallint NOT NULL,
    gen      bigint   NOT NULL,
    key      text     NOT NULL,
    spent    bigint   NOT NULL DEFAULT 0 CHECK (spent >= 0),
    reserved bigint   NOT NULL DEFAULT 0 CHECK (reserved >= 0),
    PRIMARY KEY (budget, rate, gen, key)
);

-- A hold remembers the window generation of each rate limit it holds (0
-- where none applies) and the limit of its key's main budget when it was
-- made (-1: none), for the alerts of its commit.
ALTER TABLE {{schema}}.holds
    ADD COLUMN rate_gens bigint[] NOT NULL DEFAULT '{}',
    ADD COLUMN key_limit bigint NOT NULL DEFAULT -1;

-- alerts holds the alert thresholds (ppm, millionths of the limit) each
-- budget (key '' the global one) reached in each window, marked by the
-- commit that reached it, in its transaction: each fires once.
CREATE TABLE {{schema}}.alerts (
    budget text        NOT NULL,
    gen    bigint      NOT NULL,
    key    text        NOT NULL,
    ppm    integer     NOT NULL,
    at     timestamptz NOT NULL,
    spent  bigint      NOT NULL,
    lim    bigint      NOT NULL,
    PRIMARY KEY (budget, gen, key, ppm)
);

DROP FUNCTION {{schema}}.apply(text, bigint, bigint, bigint, boolean, smallint[], bigint[], bigint[], text[],
                               bigint[], bigint[], bigint[], bigint[], text[]);

-- apply is version 1's with rate limits and alerts. New parameters:
-- p_rate_limit are the limits of the rate limits (the first p_nrates the
-- global budget's, the others each key's); p_rate_gen holds, for operation
-- i and rate j, the window generation at (i-1)*nr+j (0: the rate does not
-- apply); p_alerts are the alert thresholds in ppm. p_key_limit is -1 for a
-- key with rate limits but no main budget. New statuses and columns:
--   9 refused by rate limit `rate`: spent, reserved (of its window)
--   commits (4, 5): spent and key_spent after the commit, hold_key and
--   key_limit the hold's, fired the thresholds marked: bit b < |p_alerts|
--   is p_alerts[b+1] of the global budget, bit |p_alerts|+b the key's.
CREATE FUNCTION {{schema}}.apply(
    p_budget text, p_now bigint, p_limit bigint, p_retention bigint, p_record boolean,
    p_op smallint[], p_id bigint[], p_gen bigint[], p_key text[], p_key_limit bigint[],
    p_amount bigint[], p_actual bigint[], p_expiry bigint[], p_label text[],
    p_rate_limit bigint[], p_nrates int, p_rate_gen bigint[], p_alerts int[])
RETURNS TABLE (status smallint, id bigint, gen bigint, spent bigint, reserved bigint,
               key_spent bigint, key_reserved bigint, rate smallint, hold_key text,
               key_limit bigint, fired int)
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
    nr int := coalesce(array_length(p_rate_limit, 1), 0);
    j int;
    rg bigint;
    rk text;
    rs bigint;
    rr bigint;
    refused boolean;
    lim bigint;
    ppm int;
    bit int;
    r_max bigint[] := array_fill(0::bigint, ARRAY[greatest(nr, 1)]);
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
    h_key_limit bigint[];
    h_nrg int[];
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
    r_rate smallint[] := array_fill(0::smallint, ARRAY[n]);
    r_hkey text[] := array_fill(''::text, ARRAY[n]);
    r_klim bigint[] := array_fill(-1::bigint, ARRAY[n]);
    r_fired int[] := array_fill(0, ARRAY[n]);
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
             RETURNING h.id, h.gen, h.key, h.amount, h.label, h.rate_gens
    LOOP
        UPDATE {{schema}}.windows w
           SET reserved = greatest(w.reserved - x.amount, 0),
               spent = CASE WHEN w.spent > top - x.amount THEN top ELSE w.spent + x.amount END
         WHERE w.budget = p_budget AND w.gen = x.gen AND (w.key = '' OR w.key = x.key);
        IF cardinality(x.rate_gens) > 0 THEN
            UPDATE {{schema}}.rate_windows w
               SET reserved = greatest(w.reserved - x.amount, 0),
                   spent = CASE WHEN w.spent > top - x.amount THEN top ELSE w.spent + x.amount END
              FROM unnest(x.rate_gens) WITH ORDINALITY AS g(gen, j)
             WHERE g.gen > 0 AND w.budget = p_budget AND w.rate = g.j AND w.gen = g.gen
               AND w.key = CASE WHEN g.j <= p_nrates THEN '' ELSE x.key END;
        END IF;
        IF p_record THEN
            INSERT INTO {{schema}}.settlements (at, budget, reservation, gen, key, label, kind, reserved, amount)
            VALUES (to_timestamp(p_now / 1000.0), p_budget, x.id, x.gen, x.key, x.label, 'expire', x.amount, x.amount);
        END IF;
    END LOOP;
    DELETE FROM {{schema}}.holds h
     WHERE h.budget = p_budget AND h.expired AND h.expiry <= p_now - p_retention;

    -- The holds the settlements name.
    SELECT array_agg(h.id), array_agg(h.budget), array_agg(h.gen), array_agg(h.key),
           array_agg(h.amount), array_agg(h.expired), array_agg(h.label), array_agg(false),
           array_agg(h.key_limit), array_agg(cardinality(h.rate_gens))
      INTO h_id, h_budget, h_gen, h_key, h_amount, h_expired, h_label, h_done, h_key_limit, h_nrg
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
            refused := false;
            IF NOT (w_spent[gi] <= p_limit AND w_res[gi] <= p_limit - w_spent[gi]
                    AND amt <= p_limit - w_spent[gi] - w_res[gi]) THEN
                r_status[i] := 2; r_s[i] := w_spent[gi]; r_r[i] := w_res[gi];
                refused := true;
            ELSIF ki IS NOT NULL AND p_key_limit[i] >= 0
                    AND NOT (w_spent[ki] <= p_key_limit[i] AND w_res[ki] <= p_key_limit[i] - w_spent[ki]
                    AND amt <= p_key_limit[i] - w_spent[ki] - w_res[ki]) THEN
                r_status[i] := 3; r_ks[i] := w_spent[ki]; r_kr[i] := w_res[ki];
                refused := true;
            END IF;
            -- The rate limits, in the table (the batch's earlier operations
            -- already wrote theirs).
            FOR j IN 1 .. nr LOOP
                EXIT WHEN refused;
                rg := p_rate_gen[(i - 1) * nr + j];
                CONTINUE WHEN rg = 0;
                rk := CASE WHEN j <= p_nrates THEN '' ELSE p_key[i] END;
                SELECT w.spent, w.reserved INTO rs, rr FROM {{schema}}.rate_windows w
                 WHERE w.budget = p_budget AND w.rate = j AND w.gen = rg AND w.key = rk;
                IF NOT FOUND THEN
                    rs := 0; rr := 0;
                END IF;
                lim := p_rate_limit[j];
                IF NOT (rs <= lim AND rr <= lim - rs AND amt <= lim - rs - rr) THEN
                    r_status[i] := 9; r_rate[i] := j; r_s[i] := rs; r_r[i] := rr;
                    refused := true;
                END IF;
            END LOOP;
            IF NOT refused THEN
                FOR j IN 1 .. nr LOOP
                    rg := p_rate_gen[(i - 1) * nr + j];
                    CONTINUE WHEN rg = 0;
                    r_max[j] := greatest(r_max[j], rg);
                    INSERT INTO {{schema}}.rate_windows AS w (budget, rate, gen, key, reserved)
                    VALUES (p_budget, j, rg, CASE WHEN j <= p_nrates THEN '' ELSE p_key[i] END, amt)
                    ON CONFLICT ON CONSTRAINT rate_windows_pkey DO UPDATE
                       SET reserved = CASE WHEN w.reserved > top - amt THEN top ELSE w.reserved + amt END;
                END LOOP;
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
                r_gen[i] := o_gen[i];
                IF h_nrg[hi] > 0 THEN
                    UPDATE {{schema}}.rate_windows w
                       SET reserved = CASE WHEN h_expired[hi] THEN w.reserved ELSE greatest(w.reserved - amt, 0) END,
                           spent = greatest(least(w.spent::numeric + billed - CASE WHEN h_expired[hi] THEN amt ELSE 0 END, top), 0)::bigint
                      FROM {{schema}}.holds h, unnest(h.rate_gens) WITH ORDINALITY AS g(gen, j)
                     WHERE h.id = h_id[hi] AND g.gen > 0 AND w.budget = p_budget AND w.rate = g.j AND w.gen = g.gen
                       AND w.key = CASE WHEN g.j <= p_nrates THEN '' ELSE h_key[hi] END;
                END IF;
                -- Alert marks: the thresholds this commit's spend reached
                -- first, marked in the same transaction.
                r_s[i] := w_spent[gi];
                r_hkey[i] := h_key[hi];
                r_klim[i] := coalesce(h_key_limit[hi], -1);
                IF ki IS NOT NULL THEN
                    r_ks[i] := w_spent[ki];
                END IF;
                IF p_op[i] = 2 THEN
                    FOR bit IN 0 .. coalesce(array_length(p_alerts, 1), 0) * 2 - 1 LOOP
                        ppm := p_alerts[bit % array_length(p_alerts, 1) + 1];
                        IF bit < array_length(p_alerts, 1) THEN
                            lim := p_limit; rk := ''; rs := w_spent[gi];
                        ELSE
                            CONTINUE WHEN ki IS NULL OR r_klim[i] <= 0;
                            lim := r_klim[i]; rk := h_key[hi]; rs := w_spent[ki];
                        END IF;
                        CONTINUE WHEN lim <= 0 OR rs < (lim / 1000000) * ppm + ((lim % 1000000) * ppm + 999999) / 1000000;
                        INSERT INTO {{schema}}.alerts (budget, gen, key, ppm, at, spent, lim)
                        VALUES (p_budget, o_gen[i], rk, ppm, to_timestamp(p_now / 1000.0), rs, lim)
                        ON CONFLICT DO NOTHING;
                        IF FOUND THEN
                            r_fired[i] := r_fired[i] | (1 << bit);
                        END IF;
                    END LOOP;
                END IF;
            END IF;
        END IF;
    END LOOP;

    -- Write back what changed.
    INSERT INTO {{schema}}.windows AS w (budget, gen, key, spent, reserved)
    SELECT p_budget, u.g, u.k, u.s, u.r FROM unnest(w_gen, w_key, w_spent, w_res, w_dirty) AS u(g, k, s, r, d) WHERE u.d
    ON CONFLICT ON CONSTRAINT windows_pkey DO UPDATE SET spent = excluded.spent, reserved = excluded.reserved;
    SELECT array_agg(CASE WHEN v.s = 1 THEN nextval({{sequence}}) ELSE 0 END ORDER BY v.j)
      INTO r_id FROM unnest(r_status) WITH ORDINALITY AS v(s, j);
    INSERT INTO {{schema}}.holds (id, budget, gen, key, amount, expiry, label, key_limit, rate_gens)
    SELECT r_id[j], p_budget, o_gen[j], p_key[j], p_amount[j], p_expiry[j], p_label[j], p_key_limit[j],
           coalesce(p_rate_gen[(j - 1) * nr + 1 : j * nr], '{}')
      FROM generate_subscripts(r_status, 1) AS j WHERE r_status[j] = 1;
    -- Forget the rate windows two windows old or older: no reservation is
    -- admitted in them any more.
    FOR j IN 1 .. nr LOOP
        IF r_max[j] > 1 THEN
            DELETE FROM {{schema}}.rate_windows w WHERE w.budget = p_budget AND w.rate = j AND w.gen < r_max[j] - 1;
        END IF;
    END LOOP;
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
    RETURN QUERY SELECT * FROM unnest(r_status, r_id, r_gen, r_s, r_r, r_ks, r_kr, r_rate, r_hkey, r_klim, r_fired);
END
$pgledger$;
