package inmem_test

import (
	"testing"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/inmem"
	"github.com/lambada-dev/lambada/internal/storetest"
)

func TestFunctionStore(t *testing.T) {
	storetest.FunctionStore(t, func(*testing.T) lambada.FunctionStore { return &inmem.Store{} })
}

func TestCodeStore(t *testing.T) {
	storetest.CodeStore(t, func(*testing.T) lambada.CodeStore { return &inmem.Store{} })
}
