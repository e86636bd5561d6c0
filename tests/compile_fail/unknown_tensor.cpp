// Must not compile: a type detseg does not know, without a view_traits specialisation.
#include <detseg/core/view_traits.hpp>

struct opaque_matrix {
    float* p;
    int rows, cols;
};

int main() {
    opaque_matrix m{nullptr, 0, 0};
    return static_cast<int>(detseg::as_view(m).size());
}
