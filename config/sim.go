package config

// Sim sets the built-in Genesys Cloud simulator (scriptsync sim, and scriptsync dev).
type Sim struct {
	// Addr is where the simulator listens. Default 127.0.0.1:8090.
	Addr string `yaml:"addr"`
}

func (s Sim) validate() []error {
	if err := checkAddr(s.Addr); err != nil {
		return []error{invalid("sim.addr", "%v", err)}
	}
	return nil
}
