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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// AppBindingSpec says how to connect to an application (a database, a search engine) that
// a Task backs up or restores. It follows appcatalog.appscode.com/v1alpha1 AppBinding.
type AppBindingSpec struct {
	// type of the application, e.g. "etcd" or "elasticsearch"; chooses the default Tasks
	// ("<type>-backup", "<type>-restore"). Stash's "kubedb.com/<db>" form is accepted.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Type string `json:"type,omitempty"`

	// version of the application, e.g. "3.6.5".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Version string `json:"version,omitempty"`

	// clientConfig says how to reach the application.
	// +required
	ClientConfig ClientConfig `json:"clientConfig"`

	// secret holds the application's credentials (e.g. username and password, or
	// ca.crt, tls.crt and tls.key), in the AppBinding's namespace.
	// +optional
	Secret *LocalObjectRef `json:"secret,omitempty"`

	// parameters are application-specific settings passed to the Functions as they are,
	// e.g. {"endpoints": ["https://etcd-0:2379", ...]} for an etcd cluster.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Type=object
	Parameters *runtime.RawExtension `json:"parameters,omitempty"`
}

// ClientConfig says how to reach an application: a URL or a Service. When both are
// set (KubeDB's MySQL and Percona XtraDB AppBindings carry a driver string such as
// "tcp(sample-mysql:3306)/" beside the Service), the Service is used, as Stash does.
// +kubebuilder:validation:XValidation:rule="has(self.url) || has(self.service)",message="one of clientConfig.url or clientConfig.service must be set"
type ClientConfig struct {
	// url of the application, e.g. "https://etcd.example.com:2379".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	URL *string `json:"url,omitempty"`

	// service is a Service in the AppBinding's namespace.
	// +optional
	Service *ServiceReference `json:"service,omitempty"`

	// caBundle is the PEM CA bundle that signs the application's serving certificate.
	// +optional
	// +kubebuilder:validation:MaxLength=65536
	CABundle []byte `json:"caBundle,omitempty"`

	// insecureSkipTLSVerify skips verification of the application's certificate.
	// +optional
	InsecureSkipTLSVerify bool `json:"insecureSkipTLSVerify,omitempty"`

	// serverName is the name expected in the application's certificate, when it differs
	// from the host.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	ServerName string `json:"serverName,omitempty"`
}

// ServiceReference points to a port of a Service.
type ServiceReference struct {
	// scheme of the URL, e.g. "http", "https" or "tcp".
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=32
	Scheme string `json:"scheme,omitempty"`

	// name of the Service.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Name string `json:"name,omitempty"`

	// port of the Service.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// path of the URL.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Path string `json:"path,omitempty"`

	// query of the URL, without the leading '?'.
	// +optional
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	Query string `json:"query,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:resource:path=appbindings,scope=Namespaced,shortName=ab,categories=stashflow
// +kubebuilder:printcolumn:name="Type",type="string",JSONPath=".spec.type"
// +kubebuilder:printcolumn:name="Version",type="string",JSONPath=".spec.version"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"

// AppBinding says how to connect to an application that stashflow backs up.
type AppBinding struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is the standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the connection.
	// +required
	Spec AppBindingSpec `json:"spec"`
}

// +kubebuilder:object:root=true

// AppBindingList is a list of AppBindings.
type AppBindingList struct {
	metav1.TypeMeta `json:",inline"`
	// metadata is the standard list metadata.
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	// items are the AppBindings.
	Items []AppBinding `json:"items"`
}

func init() {
	objectTypes = append(objectTypes, &AppBinding{}, &AppBindingList{})
}
