// Package deploy holds the files that run scriptsync outside a developer's machine: the
// Kubernetes manifests, the Prometheus alert rules, the Grafana dashboard and the files
// docker-compose.yml mounts. It has no code; its tests parse every one of those files,
// and the Dockerfile and docker-compose.yml at the repository root, and check them
// against the configuration, the subcommands and the metrics the code registers.
package deploy
