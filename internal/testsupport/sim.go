package testsupport

import (
	"net/http/httptest"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/scriptsync/scriptsync/genesys/sim"
)

// StartSim starts the Genesys Cloud simulator on a loopback httptest server and returns it
// with its base URL, which serves as both the login and the API URL. When the test ends,
// requests held by the hang or latency faults are released, then the server is closed.
func StartSim(t testing.TB, opts sim.Options) (*sim.Server, string) {
	t.Helper()
	srv := sim.New(opts, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return srv, ts.URL
}
