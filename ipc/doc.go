// Package ipc measures shared-memory and message-passing transports between OS processes.
package ipc
