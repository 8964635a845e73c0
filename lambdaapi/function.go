package lambdaapi

import "net/http"

// routeFunctions registers the control plane's function operations.
func (s *Server) routeFunctions(handle func(string, func(http.ResponseWriter, *http.Request) error)) {
}
