// Relative asset URLs, so the built page works from any folder of any static host (MNIST beside it in ./mnist/).
export default {
  base: './',
  build: { target: 'es2022' },
};
