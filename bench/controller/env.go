package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/stashflow/stashflow/e2e/argoenv"
	"github.com/stashflow/stashflow/internal/testenv"
)

func numCPU() int { return runtime.NumCPU() }

func goBuild(out string) error {
	root, err := testenv.RepoRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", out, "./cmd/stashflow")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/stashflow: %w", err)
	}
	return nil
}

// argoCRDs is the directory of Argo's minimal CRDs in the module cache.
func argoCRDs() (string, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return "", err
	}
	return argoenv.CRDDir(root)
}

// writeKubeconfig writes cfg (envtest's admin) as a kubeconfig.
func writeKubeconfig(cfg *rest.Config, path string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["envtest"] = &clientcmdapi.Cluster{Server: cfg.Host, CertificateAuthorityData: cfg.CAData, CertificateAuthority: cfg.CAFile}
	kc.AuthInfos["envtest"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData, ClientCertificate: cfg.CertFile,
		ClientKeyData: cfg.KeyData, ClientKey: cfg.KeyFile, Token: cfg.BearerToken,
	}
	kc.Contexts["envtest"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "envtest"}
	kc.CurrentContext = "envtest"
	return clientcmd.WriteToFile(*kc, path)
}

// operator is `stashflow operator` running as a child process.
type operator struct {
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
}

func startOperator(binary, kubeconfig, namespace, log string, s setting) (*operator, error) {
	f, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	cmd := exec.Command(binary, "operator",
		"--engine=argo",
		"--namespace", namespace,
		"--metrics-bind-address=0", "--health-probe-bind-address=0",
		"--max-concurrent-reconciles", strconv.Itoa(s.mcr),
		"--kube-api-qps", strconv.FormatFloat(s.qps, 'g', -1, 64),
		"--kube-api-burst", strconv.Itoa(s.burst),
	)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start operator: %w", err)
	}
	o := &operator{cmd: cmd, log: log, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(o.exited) }()
	return o, nil
}

// status returns VmHWM and VmRSS (KiB) of the running operator.
func (o *operator) status() (hwm, rss int64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", o.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmHWM":
			hwm = n
		case "VmRSS":
			rss = n
		}
	}
	return hwm, rss
}

func (o *operator) running() bool {
	select {
	case <-o.exited:
		return false
	default:
		return true
	}
}

// stop ends the operator (SIGTERM, then SIGKILL) and returns its maxrss
// (KiB) and CPU time.
func (o *operator) stop() (int64, time.Duration) {
	_ = syscall.Kill(-o.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-o.exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-o.cmd.Process.Pid, syscall.SIGKILL)
		<-o.exited
	}
	ru, ok := o.cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0
	}
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return ru.Maxrss, cpu
}

// tail is the end of the operator's log.
func (o *operator) tail(n int) string {
	b, _ := os.ReadFile(o.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
