// Package kubetest starts a real Kubernetes API server (etcd plus
// kube-apiserver, no kubelet, scheduler or controllers) on random loopback
// ports for nexo's integration tier. Its code carries the `integration` build
// tag because it runs the binaries that scripts/kube/build-apiserver.sh
// provides (tools/kube-apiserver/bin/kube-apiserver and Debian's etcd).
//
// One server is shared by a whole test binary: call Start from each test
// and Main from TestMain, which stops the server after the tests ran.
//
//	func TestMain(m *testing.M) { kubetest.Main(m) }
//
//	func TestX(t *testing.T) {
//		srv := kubetest.Start(t)
//		client := kubernetes.NewForConfigOrDie(srv.RestConfig())
//		...
//	}
//
// Environment: KUBE_APISERVER_BIN and ETCD_BIN override where the binaries
// are found (default: tools/kube-apiserver/bin/kube-apiserver in the
// repository, and etcd on PATH).
package kubetest
