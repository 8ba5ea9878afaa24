-- open_alerts: the alert episodes still open (status open, or recovering while the cooldown runs).
-- Definition: alert_log rows whose status is not 'resolved', breaches first, then oldest first.
-- Grain: one row per open alert episode.  Unit: as alert_log.
CREATE OR REPLACE VIEW open_alerts AS
SELECT * FROM alert_log WHERE status <> 'resolved'
ORDER BY CASE level WHEN 'breach' THEN 0 WHEN 'aging' THEN 1 ELSE 2 END, started_at;
