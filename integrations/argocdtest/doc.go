// Package argocdtest starts a real Argo CD v3.6.1 — API server, application
// controller and repo server — for nexo's integration tier, on free loopback
// ports against the real kube-apiserver of kubetest, with its own
// redis-server. Its code carries the `integration` build tag because it runs
// the binary that scripts/argocd/build.sh provides (tools/argocd/bin/).
//
// Start creates, through the Kubernetes API, the Application, AppProject and
// ApplicationSet CRDs, the namespace argocd and the config objects
// (argocd-cm with the local account "nexo" that can only use API tokens,
// argocd-rbac-cm whose policy.csv is read from docs/install.md so the
// documented RBAC is the one tested, argocd-cmd-params-cm, argocd-secret with
// a bcrypt admin password), starts the three components, waits for the API
// server, and logs in: an admin session token for setting up, and an API
// token of the nexo account, which is what the tests give nexo.
//
// One Argo CD is shared by a whole test binary:
//
//	func TestMain(m *testing.M) { argocdtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		acd := argocdtest.Start(t)
//		repo := gitopstest.NewRemote(t, files)
//		acd.CreateApp(t, argocdtest.App{Name: "x", RepoURL: repo.URL, Path: "x", Namespace: "nexo-x"})
//		...
//	}
//
// Environment: ARGOCD_BIN_DIR overrides where the binary, the CRDs and the
// wrapper scripts are found (default tools/argocd/bin in the repository);
// REDIS_SERVER_BIN overrides redis-server on PATH; KUBE_APISERVER_BIN and
// ETCD_BIN as in kubetest.
package argocdtest
