package config

// Worker sets the consumers that write participant attributes.
type Worker struct {
	// Consumer is the durable consumer name every worker process shares.
	// Default scriptsync-worker.
	Consumer string `yaml:"consumer"`
	// Concurrency is how many events one process handles at once. Default 64.
	Concurrency int `yaml:"concurrency"`
}

func (w Worker) validate() []error {
	var errs []error
	if !streamName.MatchString(w.Consumer) {
		errs = append(errs, invalid("worker.consumer", "%q may hold only letters, digits, - and _",
			w.Consumer))
	}
	if w.Concurrency < 1 || w.Concurrency > 4096 {
		errs = append(errs, invalid("worker.concurrency", "%d is outside 1..4096", w.Concurrency))
	}
	return errs
}
