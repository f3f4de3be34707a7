module smoke {
  requires io.autoglm.core;
}
