// Package translators turns a backup or restore run into a pipeline.Graph.
//
// Translators are pure: they take resolved objects (the session, its
// invoker, the Repository, a reference to its storage Secret, the targets,
// the Task and its Functions) and return a Graph. They make no client calls
// and read no clock; the controllers resolve, the translators compute, the
// engines run. Stash's ${VAR} and ${VAR:=default} substitution lives here too.
package translators
