// Package chaos is the fault suite: it starts scriptsync as real processes (an ingest, two
// workers and the Genesys Cloud simulator) beside a nats-server process and the machine's
// Redis, sends a steady load of events, injects one fault at a time, and checks that every
// event the ingest accepted was applied or dead-lettered with a reason, and that the
// simulator saw no lost update.
//
// The suite is a test that runs only when SCRIPTSYNC_CHAOS is set: "ci" for the reduced
// form CI runs, "full" for the form docs/faults.md reports. make chaos runs it.
package chaos
