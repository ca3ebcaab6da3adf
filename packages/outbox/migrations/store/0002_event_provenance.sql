-- Server time and exact provenance (DESIGN §6). server_hlc: the HLC ingest stamped on an event when it
-- accepted it, beside the writer's own hlc. provenance: on a change the resolver applied, per field it
-- sets, the write whose value it is ({ eventId, hlc, serverHlc, origin, source, dot }), so a rebuild
-- folding the events gives the field versions the live aggregate has.
ALTER TABLE events ADD COLUMN server_hlc text, ADD COLUMN provenance jsonb;
