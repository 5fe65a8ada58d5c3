// Package nsutil runs code inside a named network namespace on a locked OS
// thread, for the demo and for tests. It imports netns only; it must not
// import any package of this project.
package nsutil
