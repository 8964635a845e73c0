package inmem_test

import (
	"testing"

	"github.com/lambada-dev/lambada"
	"github.com/lambada-dev/lambada/inmem"
	"github.com/lambada-dev/lambada/internal/storetest"
)

func TestLayerStore(t *testing.T) {
	storetest.LayerStore(t, func(*testing.T) lambada.LayerStore { return &inmem.Store{} })
}
