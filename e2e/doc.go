// Package e2e holds end-to-end tests against real servers: kube-apiserver and
// etcd (envtest), Argo's own workflow-controller, with e2e/podrunner playing
// the kubelet. It has no code besides tests; e2e/argoenv starts the
// environment and e2e/podrunner runs the pods, both test-only.
//
// The engine conformance suite (conformance_test.go) runs in `make test`: it
// needs no build tag, only bin/workflow-controller (`make tools`). Slower
// suites that need a built stashflow binary carry the e2e build tag and run
// with `make e2e`. docs/e2e.md describes the environment.
package e2e
