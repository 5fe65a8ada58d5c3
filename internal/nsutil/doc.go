// Package nsutil runs code inside a named network namespace on a locked OS
// thread (the demo, tests), and code that switches its thread's namespaces
// on a thread that is never the main thread (OffMain: process attribution's
// walk of the network namespaces, its private cgroup mount). It imports
// netns only; it must not import any package of this project.
package nsutil
