// Package replicas holds the multi-replica, crash and outage tests of nexo:
// several real runtimes (wire.Build) on one fake Slack and one Redis store,
// replicas killed abruptly mid-workflow, Redis stopped and restarted, Slack
// rate-limit storms and slow GitHub / Argo CD. Everything is in _test files;
// the figures are logged with t.Logf and summarised in docs/operations.md.
package replicas
