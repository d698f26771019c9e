/*
Copyright 2025 The stashflow Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package v1alpha1

import (
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Hook is an action run before a backup or restore (Stash's prober.Handler): a command in a
// container of the target, an HTTP GET or POST, or a TCP connect. Exactly one handler is set.
// A failed pre hook skips its target's steps and fails the target.
// +kubebuilder:validation:XValidation:rule="[has(self.exec), has(self.httpGet), has(self.httpPost), has(self.tcpSocket)].filter(x, x).size() == 1",message="exactly one of exec, httpGet, httpPost or tcpSocket must be set in a hook"
type Hook struct {
	// exec runs a command.
	// +optional
	Exec *ExecAction `json:"exec,omitempty"`

	// httpGet sends an HTTP GET request; a 2xx or 3xx answer is success.
	// +optional
	HTTPGet *HTTPGetAction `json:"httpGet,omitempty"`

	// httpPost sends an HTTP POST request; a 2xx or 3xx answer is success.
	// +optional
	HTTPPost *HTTPPostAction `json:"httpPost,omitempty"`

	// tcpSocket opens a TCP connection; a successful connect is success.
	// +optional
	TCPSocket *TCPSocketAction `json:"tcpSocket,omitempty"`

	// containerName is the container of the target's pod that runs an exec hook. Empty means
	// the pod's first container; on the local engine, exec hooks run on this machine.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	ContainerName string `json:"containerName,omitempty"`

	// timeoutSeconds bounds the hook's run. Empty means the session's timeOut alone bounds it.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	TimeoutSeconds *int32 `json:"timeoutSeconds,omitempty"`
}

// PostHook is a Hook run after a backup or restore, with a policy that says when it runs
// (Stash's PostHookSpec). The one-handler rule of Hook applies through the embedding.
type PostHook struct {
	Hook `json:",inline"`

	// executionPolicy says when the hook runs: Always (the default), OnSuccess or OnFailure
	// of what it follows. See PostHook.Policy.
	// +optional
	ExecutionPolicy HookExecutionPolicy `json:"executionPolicy,omitempty"`
}

// HookExecutionPolicy says when a post hook runs.
// +kubebuilder:validation:Enum=Always;OnSuccess;OnFailure
type HookExecutionPolicy string

const (
	// HookExecuteAlways runs the hook whatever happened before it.
	HookExecuteAlways HookExecutionPolicy = "Always"
	// HookExecuteOnSuccess runs the hook only if everything before it succeeded.
	HookExecuteOnSuccess HookExecutionPolicy = "OnSuccess"
	// HookExecuteOnFailure runs the hook only if something before it failed.
	HookExecuteOnFailure HookExecutionPolicy = "OnFailure"
)

// BackupHooks are the hooks around a backup.
// +kubebuilder:validation:MinProperties=1
type BackupHooks struct {
	// preBackup runs before the backup steps.
	// +optional
	PreBackup *Hook `json:"preBackup,omitempty"`

	// postBackup runs after the backup steps, as its executionPolicy says.
	// +optional
	PostBackup *PostHook `json:"postBackup,omitempty"`
}

// RestoreHooks are the hooks around a restore.
// +kubebuilder:validation:MinProperties=1
type RestoreHooks struct {
	// preRestore runs before the restore steps.
	// +optional
	PreRestore *Hook `json:"preRestore,omitempty"`

	// postRestore runs after the restore steps, as its executionPolicy says.
	// +optional
	PostRestore *PostHook `json:"postRestore,omitempty"`
}

// ExecAction runs a command. It is not run in a shell: use ["sh", "-c", "..."] for one.
type ExecAction struct {
	// command is the program and its arguments.
	// +required
	// +listType=atomic
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=4096
	Command []string `json:"command,omitempty"`
}

// URIScheme is the scheme of an HTTP hook.
// +kubebuilder:validation:Enum=HTTP;HTTPS
type URIScheme string

const (
	// URISchemeHTTP is plain HTTP, the default.
	URISchemeHTTP URIScheme = "HTTP"
	// URISchemeHTTPS is HTTP over TLS.
	URISchemeHTTPS URIScheme = "HTTPS"
)

// HTTPGetAction sends an HTTP GET request.
type HTTPGetAction struct {
	// path of the request, e.g. "/_flush".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Path string `json:"path,omitempty"`

	// port to connect to: a number or the name of a port of the target's pod or service.
	// +required
	Port intstr.IntOrString `json:"port"`

	// host to connect to. Empty means the target's pod IP, or its service for an AppBinding.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host,omitempty"`

	// scheme is HTTP (the default) or HTTPS.
	// +optional
	Scheme URIScheme `json:"scheme,omitempty"`

	// httpHeaders are added to the request.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`
}

// HTTPPostAction sends an HTTP POST request with a body or a form.
// +kubebuilder:validation:XValidation:rule="!(has(self.body) && has(self.form))",message="httpPost.body and httpPost.form are mutually exclusive"
type HTTPPostAction struct {
	// path of the request.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Path string `json:"path,omitempty"`

	// port to connect to: a number or the name of a port of the target's pod or service.
	// +required
	Port intstr.IntOrString `json:"port"`

	// host to connect to. Empty means the target's pod IP, or its service for an AppBinding.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host,omitempty"`

	// scheme is HTTP (the default) or HTTPS.
	// +optional
	Scheme URIScheme `json:"scheme,omitempty"`

	// httpHeaders are added to the request.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	HTTPHeaders []HTTPHeader `json:"httpHeaders,omitempty"`

	// body is sent as the request body.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=65536
	Body string `json:"body,omitempty"`

	// form is sent as an application/x-www-form-urlencoded body.
	// +optional
	// +listType=map
	// +listMapKey=key
	// +kubebuilder:validation:MaxItems=64
	Form []FormEntry `json:"form,omitempty"`
}

// HTTPHeader is one header of an HTTP hook.
type HTTPHeader struct {
	// name of the header.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Name string `json:"name,omitempty"`

	// value of the header.
	// +required
	// +kubebuilder:validation:MaxLength=4096
	Value string `json:"value"`
}

// FormEntry is one key of an HTTP POST form.
type FormEntry struct {
	// key of the form field.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Key string `json:"key,omitempty"`

	// values of the form field.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=4096
	Values []string `json:"values,omitempty"`
}

// TCPSocketAction opens a TCP connection.
type TCPSocketAction struct {
	// port to connect to: a number or the name of a port of the target's pod or service.
	// +required
	Port intstr.IntOrString `json:"port"`

	// host to connect to. Empty means the target's pod IP, or its service for an AppBinding.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host,omitempty"`
}
