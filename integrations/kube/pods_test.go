package kube_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nexo-org/nexo-bot/commands/commandstest"
	"github.com/nexo-org/nexo-bot/integrations/kube"
	corev1 "k8s.io/api/core/v1"
)

func TestPodsTableLikeKubectl(t *testing.T) {
	cases := []struct {
		fixture string
		rows    [][]string // name, ready, status, restarts prefix, age
	}{
		{"imagepull", [][]string{
			{"nexo-be-5d8f9c7b6d-abc12", "0/1", "ImagePullBackOff", "0", "2m"},
			{"nexo-be-7c9d8b6f4-q9m4t", "1/1", "Running", "0", "20h"},
			{"nexo-be-7c9d8b6f4-x7k2p", "1/1", "Running", "0", "20h"},
		}},
		{"crashloop", [][]string{{"nexo-be-6f7a8b9c0d-k3j5h", "0/1", "CrashLoopBackOff", "6 (2m ago)", "10m"}}},
		{"oomkilled", [][]string{{"nexo-be-8a9b0c1d2e-p4r6s", "0/1", "CrashLoopBackOff", "5 (3m ago)", "50m"}}},
		{"pending", [][]string{{"nexo-be-9b0c1d2e3f-w8v7u", "0/1", "Pending", "0", "15m"}}},
		{"configerror", [][]string{{"nexo-be-0c1d2e3f4a-h2g3f", "0/1", "CreateContainerConfigError", "0", "3m"}}},
	}
	for _, tc := range cases {
		t.Run(tc.fixture, func(t *testing.T) {
			ps := commandstest.Pods(t, tc.fixture)
			// the kube client sorts by name; so does kubectl
			r := commandstest.NewRig(t, commandstest.Options{Pods: ps, NoArgo: true})
			list, err := r.Deps.Kube.Pods(r.Ctx, "nexo-staging", "app=nexo-be")
			if err != nil {
				t.Fatal(err)
			}
			table := kube.PodsTable(list, commandstest.Now)
			lines := strings.Split(table, "\n")
			if got := strings.Fields(lines[0]); strings.Join(got, " ") != "NAME READY STATUS RESTARTS AGE" {
				t.Fatalf("header %q", lines[0])
			}
			if len(lines) != len(tc.rows)+1 {
				t.Fatalf("table:\n%s", table)
			}
			for i, want := range tc.rows {
				line := lines[i+1]
				for _, cell := range want {
					if !strings.Contains(line, cell) {
						t.Errorf("row %d %q lacks %q", i, line, cell)
					}
				}
				if !strings.HasPrefix(line, want[0]) {
					t.Errorf("row %d is %q, want %s first", i, line, want[0])
				}
			}
		})
	}
}

func TestPodStatusEdgeCases(t *testing.T) {
	p := commandstest.Pods(t, "healthy")[0]
	del := p.CreationTimestamp
	p.DeletionTimestamp = &del
	if s := kube.PodStatus(p); s != "Terminating" {
		t.Errorf("deleting pod: %s", s)
	}
	p = commandstest.Pods(t, "healthy")[0]
	p.Spec.InitContainers = []corev1.Container{{Name: "migrate"}}
	p.Status.InitContainerStatuses = []corev1.ContainerStatus{{Name: "migrate", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"}}}}
	if s := kube.PodStatus(p); s != "Init:Error" {
		t.Errorf("failed init container: %s", s)
	}
}

func TestAgeLikeKubectl(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 45 * time.Second: "45s", 12*time.Minute + 59*time.Second: "12m",
		5 * time.Hour: "5h", 47 * time.Hour: "47h", 72 * time.Hour: "3d",
	} {
		if got := kube.Age(d); got != want {
			t.Errorf("Age(%s) = %q, want %q", d, got, want)
		}
	}
}
