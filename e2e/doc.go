// Package e2e holds the end-to-end tests: the real ingest, an embedded JetStream, the
// worker, a lookup source and the Genesys simulator, wired as the scriptsync command wires
// them.
package e2e
