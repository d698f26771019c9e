// Package argoenv starts, in one call, what an end-to-end test of the Argo
// engine needs, all real except the node: envtest's kube-apiserver and etcd
// (internal/testenv) with Argo's CRDs, a namespace with its default
// ServiceAccount and an (almost) empty workflow-controller-configmap, Argo's
// own workflow-controller (bin/workflow-controller, built by `make tools`)
// run out of cluster against that apiserver, and e2e/podrunner standing in
// for the kubelet.
//
// Use it once per test package, from TestMain:
//
//	var env *argoenv.Env
//
//	func TestMain(m *testing.M) {
//		os.Exit(argoenv.Run(m, argoenv.Options{}, func(e *argoenv.Env) error { env = e; return nil }))
//	}
//
// and in tests:
//
//	env.DumpOnFailure(t, wf.Name) // controller log lines and step logs, if t fails
//	wf, err := env.RunWorkflow(ctx, wf)
//
// The controller runs with --namespaced --managed-namespace <Namespace>,
// leader election off and DEFAULT_REQUEUE_TIME=50ms (the default 10s makes
// every DAG level wait about 10s). Its metrics server is disabled in the
// ConfigMap, so that several packages' environments can run at once; its
// health server's fixed port 6060 may then be taken, which only costs a log
// line. Output of the controller and the runner goes to files under WorkDir
// (ControllerLog, RunnerLog), which Stop removes unless Options.WorkDir was
// given.
//
// Every pod's process gets KUBECONFIG=<Kubeconfig> (the apiserver's admin,
// its context's namespace Namespace) in its environment, after PATH: the
// stand-in for the service-account token a real pod gets, for steps that
// call the API (exec hooks, workload-quiesce and workload-resume). It is an
// admin's, so RBAC is not tested through it.
//
// A missing binary is an error that says to run `make tools`, never a skip.
package argoenv
