package io.autoglm.spring;

import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;

/** The application the server tests start: auto-configuration only, no component scan. */
@SpringBootConfiguration
@EnableAutoConfiguration
class TestApplication {}
